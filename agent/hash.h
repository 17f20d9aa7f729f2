/*
 * hash.h - the non-cryptographic hashes the agent uses everywhere: 64-bit
 * FNV-1a over bytes (event.id, file fingerprints, hash tables) and the
 * splitmix64 finaliser (avalanche before a table index or a HyperLogLog
 * register). One definition, so a persisted value (event.id, a file's
 * fingerprint in positions.json) cannot drift between two copies.
 */
#ifndef VG_HASH_H
#define VG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VG_FNV_BASIS 0xcbf29ce484222325ULL /* FNV-1a 64-bit offset basis */

/* FNV-1a of p[0..n), continuing from h (VG_FNV_BASIS to start). */
static inline uint64_t vg_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64's finaliser: every input bit moves about half the output bits. */
static inline uint64_t vg_mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

#endif

/*
 * lru.h - the recency list the stateful tables share (correlation groups,
 * baseline keys, mined templates): an intrusive doubly linked list, most
 * recently updated at the head, the eviction candidate at the tail.
 *
 * Macros rather than functions so each table keeps its own struct and field
 * names: `list` is anything with `head` and `tail` pointers, `e` an element,
 * PREV/NEXT the names of its link fields. O(1), no allocation.
 */
#ifndef VG_LRU_H
#define VG_LRU_H

#include <stddef.h>

/* Take e out of list (its links are cleared). */
#define VG_LRU_UNLINK(list, e, PREV, NEXT)                                                    \
    do {                                                                                      \
        if ((e)->PREV)                                                                        \
            (e)->PREV->NEXT = (e)->NEXT;                                                      \
        else                                                                                  \
            (list)->head = (e)->NEXT;                                                         \
        if ((e)->NEXT)                                                                        \
            (e)->NEXT->PREV = (e)->PREV;                                                      \
        else                                                                                  \
            (list)->tail = (e)->PREV;                                                         \
        (e)->PREV = (e)->NEXT = NULL;                                                         \
    } while (0)

/* Put e (not in the list) at the head: the most recently updated. */
#define VG_LRU_FRONT(list, e, PREV, NEXT)                                                     \
    do {                                                                                      \
        (e)->PREV = NULL;                                                                     \
        (e)->NEXT = (list)->head;                                                             \
        if ((list)->head)                                                                     \
            (list)->head->PREV = (e);                                                         \
        (list)->head = (e);                                                                   \
        if (!(list)->tail)                                                                    \
            (list)->tail = (e);                                                               \
    } while (0)

#endif

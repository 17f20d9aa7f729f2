import "math"
rule e { condition: math.entropy(0, filesize) > 7 and for any i in (1..#s): (@s[i] > 0) }

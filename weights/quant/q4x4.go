package quant

import (
	"fmt"
	"sync"
)

// Q4_0x4 is how the engine keeps Q4_0 matrices in memory for its mat-vec
// kernels (it is not a file format). Rows 4g..4g+3 form group g, and block
// b of the group's four rows is stored together as 72 bytes: the four fp16
// scales (rows 0..3), then the four rows' 16 nibble bytes. One 64-byte load
// then holds four rows' quants and one 8-byte load their scales, instead of
// eight scattered loads; the arithmetic, and so every rounding, stays
// exactly that of the plain layout.
//
// Paired (for kernels that compute eight rows per pass), groups 2p and
// 2p+1 are interleaved block by block: the pair's 8·rowBytes bytes are
// [g0 b0][g1 b0][g0 b1][g1 b1]…, so such a kernel, sharing the
// activation's loads between the two groups, reads one sequential stream
// (two streams 4·rowBytes apart read DRAM markedly slower). An odd last
// group stays on its own, block after block, as every group does unpaired.
const Q4_0x4Group = 4 * Q4_0Bytes

// CanPackQ4_0x4 reports whether a rows×rowBytes Q4_0 matrix can be packed.
func CanPackQ4_0x4(rows, rowBytes int) bool {
	return rows > 0 && rows%4 == 0 && rowBytes > 0 && rowBytes%Q4_0Bytes == 0
}

// Q4_0x4Offset is where block b of group g starts in a packed matrix of
// groups groups of nb blocks.
func Q4_0x4Offset(groups, nb, g, b int, paired bool) int {
	if paired && g < groups&^1 {
		return g/2*2*nb*Q4_0x4Group + b*2*Q4_0x4Group + g%2*Q4_0x4Group
	}
	return g*nb*Q4_0x4Group + b*Q4_0x4Group
}

// PackQ4_0x4 rearranges rows Q4_0 rows of rowBytes bytes (data holds exactly
// rows·rowBytes bytes) into the Q4_0x4 layout, paired or not, in place.
func PackQ4_0x4(data []byte, rows, rowBytes int, paired bool) error {
	if err := checkQ4_0x4(data, rows, rowBytes); err != nil {
		return err
	}
	nb := rowBytes / Q4_0Bytes
	bp := groupScratch(rowBytes)
	defer groupPool.Put(bp)
	tmp := *bp
	groups := rows / 4
	// A pair (or the odd last group) at a time: its bytes are its own.
	for g := 0; g < groups; g += 2 {
		n := min(2, groups-g)
		span := data[g*4*rowBytes : (g+n)*4*rowBytes]
		copy(tmp, span)
		for h := 0; h < n; h++ {
			for b := 0; b < nb; b++ {
				dst := data[Q4_0x4Offset(groups, nb, g+h, b, paired):][:Q4_0x4Group]
				for r := 0; r < 4; r++ {
					src := tmp[(4*h+r)*rowBytes+b*Q4_0Bytes:]
					dst[2*r], dst[2*r+1] = src[0], src[1]
					copy(dst[8+16*r:8+16*r+16], src[2:Q4_0Bytes])
				}
			}
		}
	}
	return nil
}

// UnpackQ4_0x4 undoes PackQ4_0x4 in place.
func UnpackQ4_0x4(data []byte, rows, rowBytes int, paired bool) error {
	if err := checkQ4_0x4(data, rows, rowBytes); err != nil {
		return err
	}
	bp := groupScratch(rowBytes)
	defer groupPool.Put(bp)
	tmp := *bp
	groups := rows / 4
	for g := 0; g < groups; g += 2 {
		n := min(2, groups-g)
		for r := 4 * g; r < 4*(g+n); r++ {
			Q4_0x4Row(data, rows, r, rowBytes, paired, tmp[(r-4*g)*rowBytes:(r-4*g+1)*rowBytes])
		}
		copy(data[g*4*rowBytes:(g+n)*4*rowBytes], tmp)
	}
	return nil
}

// Q4_0x4Row copies row r of a packed matrix of rows rows into dst
// (rowBytes bytes) in the plain Q4_0 layout.
func Q4_0x4Row(data []byte, rows, r, rowBytes int, paired bool, dst []byte) {
	nb := rowBytes / Q4_0Bytes
	i := r % 4
	for b := 0; b < nb; b++ {
		src := data[Q4_0x4Offset(rows/4, nb, r/4, b, paired):]
		out := dst[b*Q4_0Bytes : (b+1)*Q4_0Bytes]
		out[0], out[1] = src[2*i], src[2*i+1]
		copy(out[2:], src[8+16*i:8+16*i+16])
	}
}

// groupPool holds scratch for one pair of groups (eight rows): experts are
// packed as the cache fills them, which must not allocate per expert.
var groupPool = sync.Pool{New: func() any { return new([]byte) }}

func groupScratch(rowBytes int) *[]byte {
	bp := groupPool.Get().(*[]byte)
	if cap(*bp) < 8*rowBytes {
		*bp = make([]byte, 8*rowBytes)
	}
	*bp = (*bp)[:8*rowBytes]
	return bp
}

func checkQ4_0x4(data []byte, rows, rowBytes int) error {
	if !CanPackQ4_0x4(rows, rowBytes) {
		return fmt.Errorf("quant: Q4_0x4 needs a multiple of 4 rows of whole blocks, have %d rows of %d bytes", rows, rowBytes)
	}
	if len(data) != rows*rowBytes {
		return fmt.Errorf("quant: Q4_0x4: %d rows of %d bytes are %d bytes, have %d", rows, rowBytes, rows*rowBytes, len(data))
	}
	return nil
}

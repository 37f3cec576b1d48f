package mysqlproxy

import (
	"testing"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// FuzzSessionBackendReplies lets the fuzzer write a backend's reply: to
// the command of the session harness it picks (cmd), at the backend step
// it picks (skip), the backend sends the fuzzer's bytes and hangs up. The
// session must keep every promise the harness checks.
func FuzzSessionBackendReplies(f *testing.F) {
	for i, cmd := range harnessCommands {
		for j, reply := range [][][]byte{
			textResult(harnessClientCaps, wire.StatusAutocommit, "seed"),
			binaryResult(harnessClientCaps, wire.StatusAutocommit|wire.StatusCursorExists, "seed"),
			prepareReply(harnessClientCaps, 1),
			{okPayload(harnessClientCaps, wire.StatusAutocommit|wire.StatusInTrans, "seed")},
			{wire.NewSQLError(wire.ERUnknownError, "seed").Append(nil)},
		} {
			fl := harnessFaults[(i+j)%len(harnessFaults)]
			raw := frame(reply)
			if fl.apply != nil {
				if r, _, applied := fl.apply(cmd.command(&harnessClient{})[0], harnessClientCaps, reply, 1); applied {
					raw = r
				}
			}
			f.Add(uint8(i), uint8(j%3), false, raw)
		}
	}
	// The harness with EOF packets pools its connections too, so the
	// fuzzed replies also reach connections that pass between sessions.
	hs := map[bool]*harness{false: newHarness(f, harnessClientCaps),
		true: newHarness(f, harnessClientCaps&^wire.ClientDeprecateEOF, pooled(f, 4))}
	f.Fuzz(func(t *testing.T, cmd, skip uint8, eofPackets bool, raw []byte) {
		fl := &fault{name: "fuzzed reply", apply: func(_ byte, _ uint64, reply [][]byte, _ int) ([]byte, bool, bool) {
			if reply == nil {
				return nil, true, true // see whole: nothing unasked, just a hang-up
			}
			return raw, true, true
		}}
		hs[eofPackets].runCase(t, harnessCommands[int(cmd)%len(harnessCommands)], fl, int(skip%4), 0)
	})
}

package structs

import (
	"encoding/binary"
	"fmt"
)

// A batch entry carries several commands in one Raft log entry, so that a
// leader under load writes, replicates and stores one entry where it would
// write many (server/proposer.go). Its layout is the BatchRequestType byte,
// then for each command the length of its encoding as a uvarint and the
// encoding itself (its own type byte and payload, as Encode writes it).
// The FSM applies the commands in order, all at the entry's index.

// LogFormat is the newest Raft log format this build applies. Format 1
// added batch entries; a server without the log_format Serf tag is at 0.
// The leader writes batch entries only when every server is at 1 or above.
const LogFormat = 1

// LogFormatBatch is the first log format with batch entries.
const LogFormatBatch = 1

// AppendBatch appends an encoded command to a batch entry; batch nil
// starts one.
func AppendBatch(batch, cmd []byte) []byte {
	if batch == nil {
		batch = []byte{uint8(BatchRequestType)}
	}
	batch = binary.AppendUvarint(batch, uint64(len(cmd)))
	return append(batch, cmd...)
}

// SplitBatch returns the commands of a batch entry's payload (the entry
// without its type byte). The commands share buf's memory.
func SplitBatch(buf []byte) ([][]byte, error) {
	var cmds [][]byte
	for len(buf) > 0 {
		n, k := binary.Uvarint(buf)
		if k <= 0 || n == 0 || n > uint64(len(buf)-k) {
			return nil, fmt.Errorf("batch entry: command %d: bad length", len(cmds))
		}
		buf = buf[k:]
		cmds = append(cmds, buf[:n:n])
		buf = buf[n:]
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("batch entry: no commands")
	}
	return cmds, nil
}

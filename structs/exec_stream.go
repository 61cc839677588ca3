package structs

// A streaming exec (GET /v1/pod/{id}/exec as a WebSocket) runs a command
// in a running task with its input and output streamed while it runs. The
// request's query names the command and its options (ExecStreamQuery*);
// errors found before the upgrade (an unknown pod, a bad command, a task
// that is not running) are the API's usual JSON errors. After the upgrade
// each WebSocket message is one JSON text message: the caller sends
// ExecStreamInput, the agent sends ExecStreamOutput, and the agent's last
// message says how the command ended (Exited or Error). Byte fields are
// base64 in JSON. Closing the WebSocket kills the command.

// Query parameters of a streaming exec.
const (
	// ExecStreamQueryCommand is the program and its arguments as a JSON
	// array of strings: command=["sh","-c","echo hi"].
	ExecStreamQueryCommand = "command"
	// ExecStreamQueryTask names the task; it may be left out when the pod
	// has one task.
	ExecStreamQueryTask = "task"
	// ExecStreamQueryTTY (true/false) runs the command on a new
	// pseudo-terminal: its stdout and stderr come as one Stdout stream,
	// and Resize messages size it.
	ExecStreamQueryTTY = "tty"
	// ExecStreamQueryStdin (true/false) gives the command the caller's
	// Stdin messages as its input; without it the command gets none and
	// Stdin messages are ignored.
	ExecStreamQueryStdin = "stdin"
)

// Bounds of the messages of a streaming exec.
const (
	// ExecStreamChunk is the most output or input bytes one message
	// carries; longer writes are split.
	ExecStreamChunk = 32 << 10
	// ExecStreamMaxMessage is the largest message either side reads (a
	// full chunk in base64 and JSON fits with room to spare).
	ExecStreamMaxMessage = 1 << 20
)

// ExecStreamInput is a message from the caller of a streaming exec; each
// sets one of its fields.
type ExecStreamInput struct {
	// Stdin is input for the command (with stdin=true).
	Stdin []byte `json:",omitempty"`
	// StdinClose ends the command's input (it reads end of file).
	StdinClose bool `json:",omitempty"`
	// Resize sets the size of the command's terminal (with tty=true).
	Resize *TerminalSize `json:",omitempty"`
}

// ExecStreamOutput is a message from the agent to the caller of a
// streaming exec.
type ExecStreamOutput struct {
	// Stdout and Stderr are output of the command as it comes.
	Stdout []byte `json:",omitempty"`
	Stderr []byte `json:",omitempty"`
	// Exited says the command exited with ExitCode (0 when left out):
	// the last message. A command that is not found exits 127.
	Exited   bool `json:",omitempty"`
	ExitCode int  `json:",omitempty"`
	// Error says the exec failed (the task stopped, the driver failed):
	// the last message.
	Error string `json:",omitempty"`
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	Rows, Cols uint16
}

package jobspecs

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// FuzzParse checks that Parse never panics, that its errors are always
// ValidationErrors with messages, and that a job it returns is valid and
// canonical.
func FuzzParse(f *testing.F) {
	for _, path := range exampleFiles(f) {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, tt := range errorCases {
		f.Add([]byte(tt.src))
	}
	f.Add([]byte(`job "x" { group "g" { task "t" { driver = "exec"`))
	f.Add([]byte(`locals { a = [for i in range(3) : i * 2] }` + "\n" + `job "x" {}`))
	f.Add([]byte("job \"\xff\" {\n}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		job, err := Parse("fuzz.hcl", src, ParseOptions{BaseDir: "examples"})
		if err != nil {
			var verrs structs.ValidationErrors
			if !errors.As(err, &verrs) || len(verrs) == 0 {
				t.Fatalf("error %T %q is not a non-empty ValidationErrors", err, err)
			}
			for _, e := range verrs {
				if e == nil || e.Msg == "" {
					t.Fatalf("empty error in %q", err)
				}
			}
			return
		}
		if err := job.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid job: %v", err)
		}
		again := structs.Copy(job)
		again.Canonicalize()
		if !reflect.DeepEqual(again, job) {
			t.Fatalf("Parse returned a job that is not canonical: %v", structs.Diff(job, again))
		}
	})
}

#!/usr/bin/env bash
# Regenerates structs/structs.generated.go: msgpack encoders and decoders,
# written by go-msgpack's codecgen, for the types that the Raft log and
# snapshots hold, so they are coded without reflection (as Nomad does). Run
# through `go generate ./structs` after changing a type that goes into the
# Raft log or a snapshot; TestGeneratedCodecWireFormat checks the result.
set -euo pipefail
cd "$(dirname "$0")/../structs"
out=structs.generated.go
rm -f "$out"
# Only the files of the types that go into log entries and snapshots: the
# API's own types (api.go, plan.go, diff.go, errors.go) are never msgpack.
go run github.com/hashicorp/go-msgpack/v2/codec/codecgen -d 102 -nr "^(ObjectMeta|[a-z].*)\$" -o "$out" \
  check.go commands.go event.go job.go network.go node.go object.go objects.go pod.go
# codecgen reads each field name through StringView, which copies the
# name to a new string in this version of go-msgpack; a switch over
# string(bytes) compares without allocating: 12 fewer allocations per pod.
perl -0pi -e '
  s/(yys\d+) := z\.StringView\(r\.DecodeStringAsBytes\(\)\)/$1 := r.DecodeStringAsBytes()/g;
  s/switch (yys\d+) \{/switch string($1) {/g;
  s/DecStructFieldNotFound\((-?\w+), (yys\d+)\)/DecStructFieldNotFound($1, string($2))/g;
' "$out"
# The fields (and map keys) that hold the values every object repeats
# decode through decodedString (intern.go), which shares them instead of
# copying; other strings are mostly unique and skip its lookup.
perl -pi -e 's/((?:x\.(?:Namespace|Type|Status|Kind|Phase|DesiredStatus|OwnerKind|Driver|Protocol|State|Mode)|yymk\d+) = )\(string\)\(r\.DecodeString\(\)\)/$1decodedString(r.DecodeStringAsBytes())/g' "$out"
# ObjectMeta gets no codec methods (nor do unexported types): every
# object type embeds it, and an embedded field's methods are promoted.
# Snapshots use the canonical handle so equal states encode to equal
# bytes, but codecgen's encoders ignore Canonical (struct fields in
# declaration order, maps unsorted). Under Canonical, each encoder hands
# its value to the reflection codec through a method-less copy of the
# type, which writes exactly what it did before the generated code.
perl -0pi -e '
  s/(func \(x \*(\w+)\) CodecEncodeSelf\(e \*codec1978\.Encoder\) \{\n\tvar h codecSelfer102\n\tz, r := codec1978\.GenHelperEncoder\(e\)\n\t_, _, _ = h, z, r\n)/$1\tif z.EncBasicHandle().Canonical {\n\t\tz.EncFallback((*codecReflect$2)(x))\n\t\treturn\n\t}\n/g;
' "$out"
{
  echo
  echo "// codecReflect types have no codec methods: the reflection codec encodes"
  echo "// them (scripts/codecgen.sh)."
  grep -oE '^func \(x \*[A-Za-z0-9_]+\) CodecEncodeSelf' "$out" | sed -E 's/^func \(x \*([A-Za-z0-9_]+)\).*/type codecReflect\1 \1/'
} >>"$out"
gofmt -w "$out"

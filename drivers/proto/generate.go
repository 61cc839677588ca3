// Package proto holds the generated gRPC code of the driver plugin
// protocol (driver.proto).
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative driver.proto

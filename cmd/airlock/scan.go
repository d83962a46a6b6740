package main

var scanCommand = command{
	name:    "scan",
	usage:   "[--rules FILE.yar]... [--json] [--allowlist F --approver-pub P] [--acl ACL] PATH|DEVICE|IMAGE...",
	summary: "YARA-scan files, recursing into archives, NARs and Guix exports",
}

func init() { scanCommand.run = notImplemented(&scanCommand) }

package main

var sealCommand = command{
	name:    "seal",
	usage:   "--key SEAL_KEY --out DIR FILE|DIR...",
	summary: "write SHA256SUMS, its signature and the audit files",
}

func init() { sealCommand.run = notImplemented(&sealCommand) }

package main

var runCommand = command{
	name:    "run",
	usage:   "[--config POLICY] [--root SYSROOT] [--allow-loop]",
	summary: "run the appliance station",
}

func init() { runCommand.run = notImplemented(&runCommand) }

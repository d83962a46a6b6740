package main

var wipeCommand = command{
	name:    "wipe",
	usage:   "[--method zero|random|dod3|discard] [--verify full|sample] [--format fat32] [--label L] [--key SEAL_KEY] [--allow-loop] [--yes] DEVICE",
	summary: "wipe, verify and reformat a stick with a signed sanitization certificate",
}

func init() { wipeCommand.run = notImplemented(&wipeCommand) }

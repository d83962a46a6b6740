package main

var verifyCommand = command{
	name:    "verify",
	usage:   "[--pub SEAL_PUB] [--state DIR] DISC|IMAGE|DIR",
	summary: "check a burned disc: seal signature, every hash, audit consistency",
}

func init() { verifyCommand.run = notImplemented(&verifyCommand) }

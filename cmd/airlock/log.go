package main

var logCommand = command{
	name:    "log",
	usage:   "append|verify|show|prove|cosign --dir LOGDIR ...",
	summary: "append to, verify, show and prove the audit log",
}

func init() { logCommand.run = notImplemented(&logCommand) }

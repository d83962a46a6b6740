package main

var guixCommand = command{
	name:    "guix",
	usage:   "verify --acl ACL EXPORT... | sign --key KEY IN | ls EXPORT|NAR | hash [-S nar] PATH",
	summary: "verify, re-sign, list and hash Guix exports and NARs",
}

func init() { guixCommand.run = notImplemented(&guixCommand) }

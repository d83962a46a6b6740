// Package appliance is the operator station: it validates the policy, performs the boot duties
// of the u-root uinit, and runs the event loop that turns device events and operator input into
// import, sanitize and check-disc jobs, shown on the console and on LEDs and recorded in the audit log.
//
// # Using it
//
// cmd/airlock's `run` subcommand loads the policy (package appliance/policy), performs the boot
// duties when it is the appliance's uinit (Boot), wires the real parts (media, scanner, guix,
// sealing, burner) into a Parts value and calls Station.Run. Everything the station needs from
// those packages is a small interface in this package (Devices, Importer, Sealer, AuditLog,
// Burner, Wiper, DiscChecker), so the state machine is tested on its own and the real parts are
// exercised end to end by the hwtest suite.
//
// # Operator flows
//
// Import: stick in -> operator ID -> mode -> READING (one read: hash + YARA + RAM spool) ->
// VERDICT (every rejected file and reason) -> SEALING (SHA256SUMS + signature + audit append,
// checkpoint and proofs) -> INSERT-DISC -> BURNING -> READBACK -> PASS, then the offer to sanitize
// the stick. Sanitize: stick in -> identity shown -> operator ID -> CONFIRM-WIPE (type the last 4
// characters of the serial, or of the size in bytes when the stick has no serial) -> WIPING ->
// FORMATTING (reformat + signed certificate) -> PASS. Check disc: disc (or ISO9660 medium) in ->
// CHECKING (seal, hashes, audit consistency) -> PASS or FAIL.
//
// Every failure (an error, a rejected file, a stick pulled mid-job, a read-back mismatch) ends the
// job in FAIL with the reason, writes an audit record and returns the station to READY. Nothing is
// burned from bytes that were not hashed, scanned and approved in the same read: the burner only
// ever sees the RAM spool filled by that read. At most one job runs at a time; a device inserted
// while busy is queued (and dropped from the queue if it is removed) and announced with
// `airlock: device queued ...`.
//
// # Line view contract (serial console and stdout in host mode)
//
// The line view is what expect-style tests and the QEMU suite read; it is a stable interface.
// Every line the station prints starts with "airlock: " and is one of:
//
//	airlock: station <NAME> modes <m1,m2,...>   once at start
//	airlock: state <STATE>                       on every state change, nothing after STATE
//	airlock: prompt <id>: <question>             then the station waits for one answer line
//	airlock: device <event> <dev> <identity>     event: add, remove, change, queued, refused, ignored
//	airlock: usb unauthorized <vid:pid> <classes>
//	airlock: progress <pct>% <done>/<total> <rate>/s eta <duration>   (throttled, ~1/s)
//	airlock: approved <path> <sha256>
//	airlock: rejected <path>: <reason>
//	airlock: verdict <APPROVED|REJECTED> <n> approved <m> rejected
//	airlock: output <kind> <path>                kind: image, log, certificate, checkpoint
//	airlock: info <free text>
//	airlock: led <name> <on|off|blink>           every LED change (also in the sysfs tree)
//	airlock: PASS <summary>
//	airlock: FAIL <reason>
//
// STATE is one of BOOT, READY, READING, VERDICT, SEALING, INSERT-DISC, BURNING, READBACK, PASS,
// FAIL, CONFIRM-WIPE, WIPING, FORMATTING, CHECKING. A job's end is always `airlock: PASS ...` or
// `airlock: FAIL ...`, followed by `airlock: state READY` once the station takes the next device.
//
// Prompt ids and their answers (one line on stdin or the serial line, surrounding blanks ignored):
//
//	operator               any non-empty ID of at most 64 printable characters
//	mode                   import | sanitize | check (only the modes the policy allows)
//	confirm-wipe           the last 4 characters of the serial (or size); anything else cancels
//	sanitize-after-import  yes | no
//	insert-disc            empty line once a blank disc is in (only for drives without media events)
//	passphrase             the key passphrase (boot, when the keys are protected; not echoed)
//
// An answer given while no prompt is pending is reported as `airlock: info ignored input` and
// dropped. The bell (BEL, 0x07) is written on attention (a prompt) and on FAIL; it is a separate
// byte before the line, never inside it.
//
// The full-screen view (tty1) shows the same facts: station and mode, the current job and state, a
// progress bar with rate and ETA, the verdict with every rejected file and reason, and the prompt.
//
// # LEDs
//
// LEDs are /sys/class/leds entries named in the policy ([leds] ready, busy, attention, pass, fail);
// on a stock PC they are the keyboard lock LEDs (input*::numlock, ::capslock, ::scrolllock). The
// mapping an operator sees:
//
//	ready      on: insert a stick or a disc
//	busy       blinking (timer trigger): working, do not remove anything
//	attention  on: the console asks something (operator ID, confirmation, insert a disc)
//	pass       on: the job succeeded; take the disc or stick
//	fail       on: the job failed; the reason is on the console; destroy the disc if one was burned
//
// Several LEDs may share one sysfs LED; the station then drives it with the last state written.
package appliance

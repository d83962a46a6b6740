// Package appliance is the operator station: it validates the policy, performs the boot duties
// of the u-root uinit, and runs the event loop that turns device events and operator input into
// import, sanitize and check-disc jobs, shown on the console and on LEDs and recorded in the audit log.
//
// # Using it
//
// cmd/airlock's `run` subcommand loads the policy (package appliance/policy), performs the boot
// duties when it is the appliance's uinit (BootDuties: with --boot, or implied when its parent is
// PID 1), wires the real parts with Wire (MediaDevices, ScanImporter, KeySealer, TLog,
// DriveBurner, MediaWiper, SealChecker over media, scanner, guix, sealing, sealing/auditlog and
// burner) and calls Station.Run. Everything the station needs from those packages is a small
// interface in this package (Devices, Importer, Sealer, AuditLog, Burner, Wiper, DiscChecker), so
// the state machine is unit-tested on its own and the real parts are exercised end to end by the
// hwtest suite (cmd/airlock/run_test.go).
//
// Host mode, for tests and `make demo`:
//
//	airlock run --config POLICY --root SYSROOT --allow-loop [--loop-dir DIR]
//
// runs the same station on a normal host: loop devices whose backing file lies under DIR
// (default SYSROOT) are the sticks, SYSROOT/sys/class/leds is a fake LED tree (created for the
// policy's LED names), burn.drive = "stdio:DIR/" burns through xorriso into DIR/SESSION.iso, the
// line view goes to stdout and answers come from stdin (end of input stops the station), and
// sanitization certificates are also copied to SYSROOT/certificates.
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
// job in FAIL with the reason, writes an audit record and returns the station to READY. A stick
// that appears at the node of another without a remove event (another serial, vendor, model,
// USB id or size: a reader that reuses the node, a missed event) is a removal of the old stick
// and an insertion of the new one, announced with `airlock: info another stick at <dev> (...)
// without a remove event: taken as remove + insert`; a change that keeps identity and size (a
// reformat) is only a notice.
//
// An interrupt or SIGTERM stops the station: `airlock: info station stopping: interrupted[;
// canceling the <dev> job]`, the running job ends in `airlock: FAIL ... the station is stopping`
// with its audit record, no READY and no queued device follow, the LEDs go off, `airlock: info
// station stopped; LEDs off` is the last line and `airlock run` exits 2. Nothing is
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
//	airlock: progress [<phase>: ]<pct>% <done>/<total> <rate>/s eta <duration>   (throttled, ~1/s)
//	airlock: approved <path> <sha256>
//	airlock: rejected <path>: <reason>
//	airlock: verdict <APPROVED|REJECTED> <n> approved <m> rejected
//	airlock: output <kind> <path>                kind: image, log, certificate, checkpoint
//	airlock: info <free text>
//	airlock: led <name> <on|off|blink|fast-blink> every LED signal change (also in the sysfs tree)
//	airlock: PASS <summary>
//	airlock: FAIL <reason>
//
// STATE is one of BOOT, READY, READING, VERDICT, SEALING, INSERT-DISC, BURNING, READBACK, PASS,
// FAIL, CONFIRM-WIPE, WIPING, FORMATTING, CHECKING. A job's end is always `airlock: PASS ...` or
// `airlock: FAIL ...`, followed by `airlock: state READY`; after an import (PASS or FAIL) the
// `sanitize-after-import` prompt comes between them when the policy offers it, and a "yes" runs
// the sanitize flow (CONFIRM-WIPE ...) on the same stick, ending in its own PASS or FAIL. <dev> is
// always the device node (/dev/sdb, /dev/loop3, /dev/sr0).
//
// Prompt ids and their answers (one line on stdin or the serial line, surrounding blanks ignored):
//
//	operator               any non-empty ID of at most 64 printable characters without spaces
//	mode                   import | sanitize | check, any case (asked only when the policy allows
//	                       several; an optical disc is always checked)
//	confirm-wipe           the last 4 characters of the serial (or of the size in bytes when the
//	                       device has no serial)
//	sanitize-after-import  yes | no | y | n, any case (after an import's PASS or FAIL, when
//	                       sanitize.after_import = "ask" and the stick is still in)
//	passphrase             the key passphrase, before the station starts (keys.passphrase = true;
//	                       not echoed on a terminal)
//
// An answer that is not one of the expected ones is asked again, at most MaxTries (5) times in
// all, each time after `airlock: info you typed "<answer>"; expected <what>, or "cancel" (try
// <i> of 5)`. "cancel" (any case) at any prompt ends the job as `FAIL ... canceled by the
// operator` (a canceled wipe is recorded with result "canceled"); running out of tries ends it as
// `FAIL ... no valid answer to <id> after 5 tries (last typed ...; expected ...)`, never as a
// cancel. A no, or a cancel, at sanitize-after-import only skips the wipe.
//
// Waiting for a blank disc is not a prompt: in INSERT-DISC the station polls the drive every
// second and prints `airlock: info insert a blank disc` once. The order of one import, as the
// QEMU and hwtest suites expect it:
//
//	airlock: device add /dev/sdb bus=usb id=0781:5567 vendor=... serial=... size=...
//	airlock: prompt operator: operator ID for /dev/sdb?
//	airlock: prompt mode: mode for /dev/sdb? (import | sanitize | check)
//	airlock: state READING
//	airlock: progress ...
//	airlock: state VERDICT
//	airlock: approved <path> <sha256>          (or: airlock: rejected <path>: <reason>)
//	airlock: verdict APPROVED 2 approved 0 rejected
//	airlock: state SEALING
//	airlock: state INSERT-DISC
//	airlock: state BURNING
//	airlock: state READBACK
//	airlock: state PASS
//	airlock: output image <path or drive>
//	airlock: output log <log dir>
//	airlock: PASS disc <session>: <n> approved file(s) of <bytes> bytes; image <size> bytes, sha256 <hex>, log index <i>; remove the disc
//	airlock: prompt sanitize-after-import: sanitize /dev/sdb now? (yes/no)
//	airlock: state READY
//
// A rejected import prints its rejected lines and verdict, then `airlock: state FAIL` and
// `airlock: FAIL rejected: <m> of <n> file(s) not approved`. A stick pulled mid-read ends in
// `airlock: FAIL reading <dev>: <dev>: device removed ...`. The `device` line's identity is
// space-separated key=value pairs (bus, id, vendor, model, serial, size, optical, fs; spaces
// inside values become '_').
// An answer given while no prompt is pending is reported as `airlock: info ignored input` and
// dropped. The bell (BEL, 0x07) is written on attention (a prompt) and on FAIL; it is a separate
// byte before the line, never inside it.
//
// The wipe's progress lines name their phase, as `airlock wipe` does: `write pass 1/3 zero: ...`
// for each write pass, then `verify full: ...` (or `verify sample: ...`); each phase starts
// at 0%. An import's PASS line says what it counts: `PASS disc <session>: <n> approved
// file(s) of <bytes> bytes; image <size> bytes, sha256 <hex>, log index <i>[ (EPHEMERAL audit
// log)]; remove the disc` (the image also holds the seal, report and log evidence, which
// `airlock verify` counts among its files).
//
// The full-screen view (tty1) shows the same facts: station and mode, the current job and state,
// a progress bar with its phase, rate and ETA, the verdict with every rejected file and reason
// and every approved file (path and the start of its SHA-256), and the prompt. Text wider than
// the screen is wrapped at spaces (a longer word is broken, continuation rows indented), never
// cut. A file list longer than the rows left is shown a page at a time, the page turning every
// console.PageTurn (4 s), with `page i/n: rows a-b of N` at its foot; the serial line view and
// the audit log always have every file.
//
// # LEDs
//
// LEDs are /sys/class/leds entries named in the policy ([leds] ready, busy, attention, pass, fail;
// a name may be a pattern with '*'). A policy without [leds] drives the default, the keyboard
// lock LEDs (leds.DefaultNames): num lock is ready, scroll lock is attention, and caps lock is the
// job's LED (busy blinks it slowly, 1 Hz; pass lights it steadily; fail blinks it fast, 4 Hz).
// Each moment has its own look (num, caps, scroll):
//
//	off   off   off          the station is not running (before BOOT, and after it stops)
//	on    off   off          READY: insert a stick or a disc
//	on    off   on           a device came: the console asks for the operator ID (or the mode)
//	off   blink off          working (READING, SEALING, BURNING, READBACK, WIPING, ...): remove nothing
//	off   blink on           working and asking (VERDICT, INSERT-DISC, CONFIRM-WIPE)
//	off   on    off          PASS: take the disc or stick
//	off   fast  off          FAIL: the reason is on the console; destroy a burned disc
//	off   on/fast on         PASS/FAIL and a question (sanitize-after-import)
//	on    on    off          READY, the last job passed
//	on    fast  off          READY, the last job failed
//
// The result stays on caps lock beside ready until the next device is inserted, so an operator
// who looked away still sees it. An LED shared by several lit signals shows the most urgent look
// (fast blink over blink over steady). Blinking uses the kernel's timer trigger (the image loads
// ledtrig-timer). Every change is also printed as `airlock: led <signal>
// <on|off|blink|fast-blink>`.
//
// # The audit log medium
//
// In boot mode the station refuses to start without its log medium (ErrNoLogMedium: `airlock
// run: boot: no audit log medium (...): refusing to start; ...`), because a log kept in RAM
// starts again at index 0 at every boot and the high side would reject its discs as a rollback.
// A policy may allow it explicitly with audit.ephemeral_log = true: the log then lives in RAM for
// this boot, the station says so at start, and every disc carries a sealed
// AIRLOCK/EPHEMERAL-LOG.txt, its seal record has "audit_log": "ephemeral" and its PASS line ends
// with "(EPHEMERAL audit log)". README, "Losing the log medium", says what the high side does.
package appliance

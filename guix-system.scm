;;; guix-system.scm: Guix declaration of the airlock staging machine's boot media.
;;;
;;; Build a bootable read-only ISO (burn it, or write it to a write-protected stick):
;;;
;;;   guix system image -t iso9660 guix-system.scm
;;;
;;; What it declares:
;;;   - `airlock', a package of this checkout (the one binary, linked statically against libyara);
;;;   - `airlock-initrd', the appliance's initramfs built from linux-libre's modules: /init is
;;;     airlock itself, run as `airlock run --boot --config /etc/airlock/policy.toml' (the station does the
;;;     boot duties: mounts, module loading, USB authorization); xorriso and its closure, the
;;;     kernel modules of %airlock-linux-modules with a modules.dep, and the site's /etc/airlock
;;;     (policy, keys, allowlist, Guix ACL, YARA rules) from %airlock-etc;
;;;   - an operating-system whose kernel is linux-libre, whose initrd is airlock-initrd, which never
;;;     leaves the initrd (so no Shepherd services, no networking and no writable root ever run),
;;;     and whose only file system is a RAM tmpfs root.
;;;
;;; TRIED AGAINST THE REAL GUIX 1.5.0 (Debian's package, offline, scripts/guix-oracle.sh):
;;; `guix system build -d guix-system.scm' and `guix system image -t iso9660 -d guix-system.scm'
;;; compute the system's and the ISO's derivations (initramfs/guix_test.go asserts both). Nothing
;;; was built: the ISO's derivation needs 1438 others (`guix build --dry-run'), the first of
;;; which (Guix's bootstrap `tar') is a download, and so are the sources of linux-libre 6.12, Go,
;;; yara and xorriso; building needs the network or substitutes. guile-3.0 alone also checks that
;;; this file parses, has these top-level forms, and that %airlock-linux-modules matches
;;; initramfs/modules.txt.

(use-modules (gnu)
             (gnu system)
             (gnu system linux-initrd)
             (gnu system file-systems)
             (gnu bootloader)
             (gnu bootloader grub)
             (gnu packages cdrom)
             (gnu packages linux)
             (gnu packages antivirus)
             (gnu packages compression)
             (guix packages)
             (guix gexp)
             (guix modules)
             (guix build-system go)
             ((guix licenses) #:prefix license:))

;; The site's policy, keys, allowlist, ACL and rules: initramfs/etc is the DEMO set (its secret
;; keys are public); a site points this at its own folder.
(define %airlock-etc
  (local-file "initramfs/etc" "airlock-etc" #:recursive? #t))

;; Kernel modules in load order: the same list as initramfs/modules.txt (checked by
;; initramfs/guix_test.go), spelled as Guix spells module names.
(define %airlock-linux-modules
  '("crct10dif_generic" "crc64_rocksoft_generic"
    "usb-common" "usbcore" "xhci-hcd" "xhci-pci" "ehci-hcd" "ehci-pci" "ohci-hcd" "ohci-pci"
    "uhci-hcd" "scsi_common" "scsi_mod" "usb-storage" "uas" "sd_mod" "cdrom" "sr_mod"
    "isofs" "fat" "vfat" "nls_cp437" "nls_ascii" "nls_utf8" "ext4" "ledtrig-timer"
    "virtio_pci" "virtio_blk"))

;; The static build of make build-static: libyara (and its zlib, xz, bzip2) linked in, no cgo
;; libc dependencies left for the initrd to carry.
(define airlock
  (package
    (name "airlock")
    (version "0.1.0")
    (source (local-file "." "airlock-checkout"
                        #:recursive? #t
                        #:select? (lambda (file stat)
                                    (not (string-contains file "/build/")))))
    (build-system go-build-system)
    (arguments
     (list #:import-path "github.com/airlock-appliance/airlock/cmd/airlock"
           #:unpack-path "github.com/airlock-appliance/airlock"
           #:install-source? #f
           #:tests? #f                  ;the test suite needs loop devices and QEMU
           #:build-flags
           #~(list "-tags" "yara_static,netgo,osusergo"
                   "-ldflags" "-extldflags '-static -lz -llzma -lbz2'")))
    (inputs (list yara xorriso))
    (home-page "https://github.com/airlock-appliance/airlock")
    (synopsis "Removable-media import, sanitization and burn appliance for air-gapped Guix sites")
    (description
     "airlock runs on a dedicated staging machine between a networked side and an air-gapped
Guix site.  It reads USB sticks without mounting them, YARA-scans every file (inside NARs, Guix
exports and archives too), checks files against an approver-signed allowlist and Guix exports
against the authorized keys, seals what passed into an append-only audit log, burns it to
write-once optical media and reads the disc back; it also wipes and reformats sticks with a
signed certificate, and checks burned discs.")
    (license license:expat)))

;; The initrd: a directory holding initrd.cpio.gz, as the operating-system's initrd field
;; requires (the kernel recognizes the compression by its magic, whatever the name says).
(define* (airlock-initrd file-systems #:key (linux linux-libre) #:allow-other-keys)
  (define modules
    ((@@ (gnu system linux-initrd) flat-linux-module-directory)
     linux %airlock-linux-modules))
  (computed-file
   "airlock-initrd"
   (with-imported-modules (source-module-closure
                           '((gnu build linux-initrd)
                             (guix build store-copy)
                             (guix build utils)))
     #~(begin
         (use-modules (gnu build linux-initrd)
                      (guix build store-copy)
                      (guix build utils))
         (define root "root")
         (mkdir-p (string-append root "/etc"))
         (copy-recursively #$%airlock-etc (string-append root "/etc/airlock"))
         (call-with-output-file (string-append root "/etc/airlock/modules")
           (lambda (port)
             (for-each (lambda (m) (display m port) (newline port))
                       '#$%airlock-linux-modules)))
         ;; Modules where the station's module loader looks for them.
         (copy-recursively #$modules (string-append root "/lib/modules"))
         ;; xorriso with its whole store closure, and the static airlock as /init.
         (populate-store '("xorriso-closure") root)
         (mkdir-p (string-append root "/bin"))
         (mkdir-p (string-append root "/usr/bin"))
         (copy-file #$(file-append airlock "/bin/airlock")
                    (string-append root "/bin/airlock"))
         (symlink "bin/airlock" (string-append root "/init"))
         (symlink #$(file-append xorriso "/bin/xorriso")
                  (string-append root "/usr/bin/xorriso"))
         (for-each (lambda (dir) (mkdir-p (string-append root dir)))
                   '("/dev" "/proc" "/sys" "/run" "/tmp"))
         (mkdir-p #$output)
         (write-cpio-archive (string-append #$output "/initrd.cpio.gz") root
                             #:gzip (string-append #$gzip
                                                   "/bin/gzip"))))
   #:options `(#:references-graphs (("xorriso-closure" ,xorriso)))))

(operating-system
  (host-name "airlock")
  (timezone "Etc/UTC")
  (locale "en_US.utf8")
  (kernel linux-libre)
  (initrd airlock-initrd)
  (initrd-modules '())
  (firmware '())
  ;; Everything after "--" is the argument list of /init, i.e. of airlock.
  (kernel-arguments '("console=ttyS0" "console=tty1" "quiet"
                      "--" "run" "--boot" "--config" "/etc/airlock/policy.toml"))
  (bootloader (bootloader-configuration
               (bootloader grub-bootloader)
               (targets '("/dev/sda"))
               (timeout 0)))
  ;; The root is RAM; it is never mounted from a disk, since /init never returns to Guix's boot
  ;; script. Nothing on the boot medium is ever written. Not %base-file-systems: its /dev/pts
  ;; requires the udev service, and with no services Guix refuses the declaration ("service
  ;; 'file-system-/dev/pts' requires 'udev', which is not provided by any service"); /init
  ;; mounts what the station needs itself.
  (file-systems (list (file-system
                        (device "none")
                        (mount-point "/")
                        (type "tmpfs")
                        (check? #f))))
  ;; No networking service of any kind; the initrd carries no network driver.
  (services '())
  (packages (list airlock xorriso)))

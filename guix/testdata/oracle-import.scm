;;; oracle-import.scm: `guix archive --import` of many files, one after the other, each into the
;;; same (scratch) store as if it were empty. For each file named on a line of the list file
;;; (the first argument; "-" reads the names from standard input), it prints one line, "NAME<TAB>ACCEPT" or "NAME<TAB>REFUSE<TAB>why",
;;; then deletes every store item the import added, including the items a refused import had
;;; already registered (guix-daemon imports item by item). The import itself is what `guix
;;; archive --import` runs (guix/scripts/archive.scm: import-paths on a store connection), so
;;; every check is guix-daemon's own; one guile process and, while the daemon's replies keep it
;;; in step, one connection (hence one `guix authenticate` helper) for all files only save the
;;; start-ups.
(use-modules (guix store) (ice-9 ftw) (ice-9 rdelim) (srfi srfi-1))

(define %case-seconds 30)                ;a case the daemon does not finish in this is a refusal

(sigaction SIGALRM (lambda (sig) (throw 'timeout %case-seconds)))

(define (store-entries)
  (filter (lambda (n) (not (member n '("." ".." ".links" "trash"))))
          (or (scandir "/gnu/store") '())))

(define (one-line str)
  (string-map (lambda (c) (if (memv c '(#\newline #\tab)) #\space c)) str))

(define conn #f)
(define (connection)
  (unless conn (set! conn (open-connection)))
  conn)
(define (drop-connection!)
  (when conn
    (false-if-exception (close-connection conn))
    (set! conn #f)))

;; import-file returns the verdict line. A daemon error (&store-protocol-error) leaves the
;; connection in step; anything else (the client failing mid-stream, a timeout) may not, so the
;; connection is dropped and the next file gets a new one.
(define (import-file file)
  (let ((port (open-input-file file #:binary #t)))
    (dynamic-wind
      (const #t)
      (lambda ()
        (catch #t
          (lambda ()
            (alarm %case-seconds)
            (import-paths (connection) port)
            (alarm 0)
            "ACCEPT")
          (lambda (key . args)
            (alarm 0)
            (cond ((and (eq? key '%exception) (pair? args) (store-protocol-error? (car args)))
                   (string-append "REFUSE\t" (one-line (store-protocol-error-message (car args)))))
                  (else
                   (drop-connection!)
                   (string-append "REFUSE\t" (one-line (format #f "~a ~s" key args))))))))
      (lambda () (close-port port)))))

(define before (store-entries))

(define (clean!)
  (let ((new (lset-difference string=? (store-entries) before)))
    (unless (null? new)
      (delete-paths (connection) (map (lambda (n) (string-append "/gnu/store/" n)) new)))))

;; The list file is read a line at a time and each file judged as soon as its name arrives, so
;; that "-" (standard input) serves one caller for many inputs: FuzzOracleImport writes a name and
;; waits for its verdict line.
(let ((list-port (if (string=? (cadr (command-line)) "-")
                     (current-input-port)
                     (open-input-file (cadr (command-line))))))
  (let loop ()
    (let ((file (read-line list-port)))
      (unless (eof-object? file)
        (let ((verdict (import-file file)))
          (clean!)
          (format #t "~a\t~a~%" file verdict)
          (force-output))
        (loop)))))

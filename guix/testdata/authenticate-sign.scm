;; What `guix authenticate sign` does, using libgcrypt through guile-gcrypt, for airlock's
;; tests (guix/crosscheck_test.go): sign SHA-256 digests with a Guix secret key file.
;;
;; Usage: guile authenticate-sign.scm SECRET-KEY-FILE PUBLIC-KEY-FILE DIGESTS-FILE
;;
;; DIGESTS-FILE has one 64-digit hex digest per line. For each, prints the signature
;; s-expression exactly as `guix authenticate sign` builds it (signature-sexp of (guix pki)),
;; followed by a NUL byte.

(use-modules (gcrypt pk-crypto)
             (gcrypt base16)
             (ice-9 match)
             (ice-9 rdelim)
             (ice-9 textual-ports))

(define (read-file file)
  (call-with-input-file file get-string-all #:encoding "ISO-8859-1"))

(define (signature-sexp data secret-key public-key)
  ;; As (guix pki) signature-sexp.
  (string->canonical-sexp
   (format #f "(signature ~a ~a ~a)"
           (canonical-sexp->string data)
           (canonical-sexp->string (sign data secret-key))
           (canonical-sexp->string public-key))))

(match (command-line)
  ((_ secret-file public-file digests-file)
   (let ((secret (string->canonical-sexp (read-file secret-file)))
         (public (string->canonical-sexp (read-file public-file))))
     (call-with-input-file digests-file
       (lambda (port)
         (let loop ((line (read-line port)))
           (unless (eof-object? line)
             (let ((data (bytevector->hash-data (base16-string->bytevector line)
                                                #:key-type 'ecc)))
               (display (canonical-sexp->string (signature-sexp data secret public)))
               (display "\x00"))
             (loop (read-line port))))))))
  (_ (format (current-error-port) "usage: authenticate-sign.scm SEC PUB DIGESTS~%") (exit 2)))

;; What `guix authenticate verify` does with a signature found in an export stream, using
;; libgcrypt through guile-gcrypt, for airlock's tests (guix/crosscheck_test.go).
;;
;; Usage: guile authenticate-verify.scm ACL-FILE SIGNATURE-FILE...
;;
;; For each signature file prints one line:
;;   valid-signature HASH-HEX      (libgcrypt verified it; HASH-HEX is the signed SHA-256,
;;                                  which guix-daemon then compares with the span's hash)
;;   invalid-signature | unauthorized-key | corrupt-signature
;;
;; The checks and their order are those of (guix pki) signature-verification-status:
;; the signature must have (data ...) and (public-key ...) (else corrupt), the public key must
;; equal an ACL entry tagged (guix import) (else unauthorized), and gcry_pk_verify must accept
;; sig-val over data with that key (else invalid).

(use-modules (gcrypt pk-crypto)
             (srfi srfi-1)
             (ice-9 match)
             (ice-9 textual-ports)
             (ice-9 format)
             (rnrs bytevectors))

(define (read-file file)
  (call-with-input-file file get-string-all #:encoding "ISO-8859-1"))

(define (acl->public-keys acl)
  ;; Entries of (acl (entry KEY (tag (guix import))) ...) whose tag includes (guix import).
  (match (canonical-sexp->sexp acl)
    (('acl ('entry keys ('tag tags ...)) ...)
     (filter-map (lambda (key tag)
                   (and (member '(guix import) tag) key))
                 keys tags))
    (_ (error "invalid ACL"))))

(define (bytevector->hex bv)
  (string-concatenate
   (map (lambda (b) (format #f "~2,'0x" b)) (bytevector->u8-list bv))))

(define (status signature-text acl-keys)
  (let ((signature (false-if-exception (string->canonical-sexp signature-text))))
    (if (not signature)
        "corrupt-signature"
        (let ((subject (find-sexp-token signature 'public-key))
              (data (find-sexp-token signature 'data))
              (sig-val (find-sexp-token signature 'sig-val)))
          (cond
           ((not (and data subject)) "corrupt-signature")
           ((not (member (canonical-sexp->sexp subject) acl-keys)) "unauthorized-key")
           ((not (and sig-val (false-if-exception (verify sig-val data subject))))
            "invalid-signature")
           (else
            (string-append "valid-signature "
                           (bytevector->hex (hash-data->bytevector data)))))))))

(match (command-line)
  ((_ acl-file sig-files ...)
   (let ((acl-keys (acl->public-keys (string->canonical-sexp (read-file acl-file)))))
     (for-each (lambda (f) (display (status (read-file f) acl-keys)) (newline))
               sig-files)))
  (_ (format (current-error-port) "usage: authenticate-verify.scm ACL SIG...~%") (exit 2)))

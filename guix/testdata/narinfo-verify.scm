;; What Guix does with a narinfo's signature (guix/narinfo.scm: narinfo-signature->canonical-sexp,
;; narinfo-sha256, valid-narinfo?), using libgcrypt through guile-gcrypt, for airlock's tests
;; (guix/quorum_crosscheck_test.go).
;;
;; Usage: guile narinfo-verify.scm ACL-FILE NARINFO-FILE...
;;
;; For each narinfo prints one line:
;;   valid-signature HASH-HEX      (libgcrypt verified the signature and HASH-HEX, the signed
;;                                  SHA-256, equals the SHA-256 of the text above "Signature:")
;;   hash-mismatch | invalid-signature | unauthorized-key | corrupt-signature | unsigned
;;
;; As Guix: the signed text is everything before the first occurrence of "Signature:"
;; (string-contains); the Signature value is "1;HOST;BASE64"; the base64 decodes to the
;; signature s-expression; its public key must equal an ACL entry; gcry_pk_verify must accept it.

(use-modules (gcrypt pk-crypto)
             (gcrypt hash)
             (gcrypt base64)
             (srfi srfi-1)
             (ice-9 match)
             (ice-9 textual-ports)
             (ice-9 format)
             (rnrs bytevectors))

(define (read-file file)
  (call-with-input-file file get-string-all #:encoding "UTF-8"))

(define (acl->public-keys acl)
  (match (canonical-sexp->sexp acl)
    (('acl ('entry keys ('tag tags ...)) ...)
     (filter-map (lambda (key tag)
                   (and (member '(guix import) tag) key))
                 keys tags))
    (_ (error "invalid ACL"))))

(define (bytevector->hex bv)
  (string-concatenate
   (map (lambda (b) (format #f "~2,'0x" b)) (bytevector->u8-list bv))))

(define (signature-field contents)
  ;; The value of the Signature line, as recutils->alist would read it.
  (let* ((start (string-contains contents "Signature:"))
         (end (string-index contents #\newline start)))
    (string-trim-both (substring contents (+ start (string-length "Signature:")) end))))

(define (status contents acl-keys)
  (match (string-contains contents "Signature:")
    (#f "unsigned")
    (index
     (let* ((above (string-take contents index))
            (hash (sha256 (string->utf8 above)))
            (signature
             (false-if-exception
              (match (string-split (signature-field contents) #\;)
                (("1" host sig)
                 (string->canonical-sexp (utf8->string (base64-decode sig))))))))
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
              ((not (equal? (hash-data->bytevector data) hash)) "hash-mismatch")
              (else
               (string-append "valid-signature "
                              (bytevector->hex (hash-data->bytevector data)))))))))))

(match (command-line)
  ((_ acl-file files ...)
   (let ((acl-keys (acl->public-keys (string->canonical-sexp (read-file acl-file)))))
     (for-each (lambda (f) (display (status (read-file f) acl-keys)) (newline))
               files)))
  (_ (format (current-error-port) "usage: narinfo-verify.scm ACL NARINFO...~%") (exit 2)))

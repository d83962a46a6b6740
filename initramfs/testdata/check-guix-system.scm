;;; check-guix-system.scm FILE: read a Guix system declaration without Guix and describe it.
;;;
;;; Guix's reader extensions (#~ #$ #$@ #+) are installed as plain list constructors so every
;;; form reads; nothing that needs a Guix module is evaluated. Prints one line per fact:
;;;   form N HEAD [NAME]        every top-level form (NAME for define/define*)
;;;   module NAME               the evaluated %airlock-linux-modules list, in order
;;;   field NAME VALUE          every field of the final operating-system form (VALUE written)
;;;   symbol NAME               every symbol in the operating-system form, for forbidden-name checks
(use-modules (ice-9 match))

(define (hash-reader tag)
  (lambda (chr port) (list tag (read port))))
(read-hash-extend #\~ (hash-reader 'gexp))
(read-hash-extend #\+ (hash-reader 'ungexp-native))
(read-hash-extend #\$
  (lambda (chr port)
    (if (eqv? (peek-char port) #\@)
        (begin (read-char port) (list 'ungexp-splicing (read port)))
        (list 'ungexp (read port)))))

(define file (cadr (command-line)))

(define forms
  (call-with-input-file file
    (lambda (port)
      (let loop ((acc '()))
        (let ((x (read port)))
          (if (eof-object? x) (reverse acc) (loop (cons x acc))))))))

(define (walk-symbols x)
  (cond ((symbol? x) (format #t "symbol ~a~%" x))
        ((pair? x) (walk-symbols (car x)) (walk-symbols (cdr x)))
        ((vector? x) (for-each walk-symbols (vector->list x)))
        (else #t)))

(let loop ((fs forms) (n 0))
  (unless (null? fs)
    (match (car fs)
      (((and head (or 'define 'define*)) (name . _) . _) (format #t "form ~a ~a ~a~%" n head name))
      (((and head (or 'define 'define*)) name . _) (format #t "form ~a ~a ~a~%" n head name))
      ((head . _) (format #t "form ~a ~a~%" n head))
      (_ (format #t "form ~a atom~%" n)))
    (loop (cdr fs) (+ n 1))))

;; The module list needs nothing of Guix: evaluate its definition for real.
(for-each (lambda (f)
            (match f
              (('define '%airlock-linux-modules expr)
               (for-each (lambda (m) (format #t "module ~a~%" m))
                         (eval expr (interaction-environment))))
              (_ #t)))
          forms)

(match (car (last-pair forms))
  (('operating-system fields ...)
   (for-each (lambda (f)
               (match f
                 ((name value) (format #t "field ~a ~s~%" name value))
                 ((name . rest) (format #t "field ~a ~s~%" name rest))))
             fields)
   (walk-symbols fields))
  (_ (format #t "error last form is not operating-system~%")))

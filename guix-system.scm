;;; guix-system.scm: Guix operating-system declaration of the airlock staging machine's boot media.
;;; Placeholder: the bootable-appliance issue (initramfs/, hwtest/) fills this in.

export PATH=/opt/ssi/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PS1='\h:\w\$ '
stty sane 2>/dev/null
# the serial console does not report its size; assume a usual terminal
[ "$(tty)" = /dev/ttyS0 ] && stty rows 40 cols 120 2>/dev/null

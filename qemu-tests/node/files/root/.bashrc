export PATH=/opt/ssi/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PS1='\h:\w\$ '
stty sane 2>/dev/null
# the serial console does not report its size; assume a usual terminal
if [ "$(tty)" = /dev/ttyS0 ]; then
  stty rows 40 cols 120 2>/dev/null
  cat <<'MSG'

ssi test cluster, node console. Try: ssi-ctl status, cat /proc/ssi/version,
ls /sys/kernel/config/ssi, ssh node2, ls /cluster (shared by all nodes).
Stop the whole cluster: Ctrl-a x.
MSG
fi

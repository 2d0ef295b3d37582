# Harness self-test: a scenario's exit status is the run's exit status.
# ssi-boot: none
# ssi-timeout: 300
exit 7

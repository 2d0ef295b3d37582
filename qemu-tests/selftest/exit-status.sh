# Harness self-test: a scenario's exit status is the run's exit status.
# ssi-boot: none
exit 7

"""Fleet tests: real sshd instances on 127.0.0.1 and the real Ansible engine."""

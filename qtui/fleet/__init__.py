"""`qtui fleet`: one study on many devices, driven from this machine (the controller) by Ansible.

The only package that imports Ansible (ansible-runner, in the optional extra `qtui[fleet]`).
The work itself is done by the playbooks shipped beside this module (package data): Ansible
connects (its ssh, its host-key checking, its forks), starts the device's own `qtui study` as an
asynchronous task (a dropped connection never stops it) and brings the results back with its
own file transfer. A device needs Python and qtui, nothing else.
"""

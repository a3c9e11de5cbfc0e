FROM fedora:40
RUN dnf install -y gcc make && dnf clean all
RUN dnf -y install python3-pip-23.3 && dnf clean all
RUN microdnf install nginx
ENTRYPOINT ["nginx"]

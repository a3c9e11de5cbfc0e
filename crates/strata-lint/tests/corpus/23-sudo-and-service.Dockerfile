FROM ubuntu:20.04
RUN apt-get update && apt-get install -y sudo openssh-server && rm -rf /var/lib/apt/lists/*
RUN sudo useradd -m -u 1234567 builder
RUN service ssh start
RUN ln -sf /bin/bash /bin/sh
CMD ["/usr/sbin/sshd", "-D"]

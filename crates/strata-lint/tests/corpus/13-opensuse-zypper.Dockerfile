FROM opensuse/leap:15.5
RUN zypper refresh && zypper install -y curl=8.0.1 && zypper clean
RUN zypper install vim
RUN zypper dup
CMD ["/bin/bash"]

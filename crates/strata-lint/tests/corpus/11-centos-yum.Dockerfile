FROM centos:7
RUN yum install -y httpd && yum clean all
RUN yum -y install epel-release
RUN yum install php
EXPOSE 80
CMD ["/usr/sbin/httpd", "-D", "FOREGROUND"]

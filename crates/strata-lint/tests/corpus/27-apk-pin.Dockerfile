FROM alpine:3.18
RUN apk add --update curl
RUN apk add --no-cache bash=5.2.15-r5 git
RUN apk update && apk upgrade
CMD ["bash"]

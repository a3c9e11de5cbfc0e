FROM debian:12
RUN apt-get update && apt-get install -y git
WORKDIR app
COPY . .
CMD make test

FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .
FROM --platform=linux/amd64 alpine:3.19 AS amd
FROM --platform=$TARGETPLATFORM alpine:3.19
COPY --from=build /out/app /usr/bin/app
ENTRYPOINT ["app"]

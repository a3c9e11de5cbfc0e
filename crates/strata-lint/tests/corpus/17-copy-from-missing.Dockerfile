FROM golang:1.22 AS builder
WORKDIR /go/src
COPY . .
RUN go build -o /bin/app
FROM scratch
COPY --from=build /bin/app /app
COPY --from=builder / /
COPY a b c
ENTRYPOINT ["/app"]

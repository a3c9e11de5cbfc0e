FROM golang:1.22
RUN go install golang.org/x/tools/gopls@v0.15.2
RUN go install github.com/air-verse/air@latest
RUN go get github.com/pkg/errors
WORKDIR /go/src/app
COPY . .
RUN go run ./cmd/gen
CMD ["air"]

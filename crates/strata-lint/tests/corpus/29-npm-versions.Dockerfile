FROM node:20
ARG TYPESCRIPT_VERSION=5.4.2
RUN npm install -g typescript@${TYPESCRIPT_VERSION}
RUN npm install -g eslint
RUN npm ci
CMD ["npx", "tsc"]

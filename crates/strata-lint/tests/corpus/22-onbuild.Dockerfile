FROM node:18
ONBUILD COPY package.json /app/
ONBUILD RUN npm install
ONBUILD RUN apt-get update && apt-get install -y curl
CMD ["node"]

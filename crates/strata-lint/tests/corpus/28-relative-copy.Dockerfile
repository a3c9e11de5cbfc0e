FROM nginx:1.25
COPY nginx.conf etc/nginx/nginx.conf
COPY html .
WORKDIR /usr/share/nginx/html
COPY index.html .

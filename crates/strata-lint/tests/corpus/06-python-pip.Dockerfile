FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
RUN pip install -r requirements.txt
RUN pip install gunicorn
RUN pip install --no-cache-dir uvicorn==0.29.0

COPY . .
RUN useradd -m app
USER app
CMD gunicorn app:app --bind 0.0.0.0:8000

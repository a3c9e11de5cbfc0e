FROM ruby:3.3
WORKDIR /usr/src/app
RUN gem install bundler:2.5.6
RUN gem install rails
COPY Gemfile Gemfile.lock ./
RUN bundle install
COPY . .
CMD ["rails", "server", "-b", "0.0.0.0"]

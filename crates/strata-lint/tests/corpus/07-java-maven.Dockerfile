FROM maven:3.9-eclipse-temurin-21 AS build
WORKDIR /build
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests

FROM eclipse-temurin:21-jre
ARG JAR_FILE=/build/target/*.jar
COPY --from=build ${JAR_FILE} /opt/app.jar
RUN groupadd -r spring && useradd -r -g spring spring
USER spring:spring
HEALTHCHECK --interval=30s CMD curl -f http://localhost:8080/actuator/health || exit 1
ENTRYPOINT ["java", "-jar", "/opt/app.jar"]

# Build: docker compose build   (or docker build -t ordercancel .)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props .editorconfig OrderCancel.sln ./
COPY src/OrderCancel.Domain/OrderCancel.Domain.csproj src/OrderCancel.Domain/
COPY src/OrderCancel.Api/OrderCancel.Api.csproj src/OrderCancel.Api/
RUN dotnet restore src/OrderCancel.Api/OrderCancel.Api.csproj
COPY src/ src/
RUN dotnet publish src/OrderCancel.Api/OrderCancel.Api.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# Orders carry IANA time zones; the zone database must be in the image. curl is for the compose healthcheck.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://+:8080
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "OrderCancel.Api.dll"]

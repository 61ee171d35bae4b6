<?php

declare(strict_types=1);

use Illuminate\Filesystem\Filesystem;
use Illuminate\Foundation\Application;
use Illuminate\Foundation\PackageManifest;

// A Laravel 8 application as small as the package's tests need. Everything it
// writes goes to $MQTT_BROADCAST_APP_DIR (a fresh directory per test).

$dir = getenv('MQTT_BROADCAST_APP_DIR');
if ($dir === false || $dir === '') {
    throw new RuntimeException('MQTT_BROADCAST_APP_DIR is not set: the test application needs a directory to write to');
}

// Laravel writes its provider and package caches to bootstrap/cache unless told
// otherwise; it reads $_SERVER before getenv(), so both are set.
foreach (['APP_SERVICES_CACHE' => "$dir/services.php", 'APP_PACKAGES_CACHE' => "$dir/packages.php"] as $name => $path) {
    $_SERVER[$name] = $_ENV[$name] = $path;
    putenv("$name=$path");
}

$app = new Application(dirname(__DIR__));
$app->useStoragePath($dir . '/storage');
$app->useDatabasePath($dir . '/database');

$app->singleton(Illuminate\Contracts\Console\Kernel::class, Illuminate\Foundation\Console\Kernel::class);
$app->singleton(Illuminate\Contracts\Http\Kernel::class, MqttBroadcast\Laravel\Tests\App\HttpKernel::class);
$app->singleton(Illuminate\Contracts\Debug\ExceptionHandler::class, Illuminate\Foundation\Exceptions\Handler::class);

// Package discovery as composer would feed it: an installed.json holding the
// package's own composer.json, so the provider and the alias come from its
// extra.laravel, as in an application that ran `composer require`.
$vendorRoot = $dir . '/discovery';
if (!is_file("$vendorRoot/vendor/composer/installed.json")) {
    @mkdir("$vendorRoot/vendor/composer", 0777, true);
    $package = json_decode((string) file_get_contents(dirname(__DIR__, 3) . '/composer.json'), true, flags: JSON_THROW_ON_ERROR);
    file_put_contents("$vendorRoot/vendor/composer/installed.json", json_encode(['packages' => [$package]], JSON_PRETTY_PRINT));
}
$app->instance(PackageManifest::class, new PackageManifest(new Filesystem(), $vendorRoot, $app->getCachedPackagesPath()));

return $app;

<?php

declare(strict_types=1);

// What composer's autoloader would give the package's tests, without composer:
// Debian's Laravel (php-laravel-framework) and its dependencies from
// /usr/share/php, the package (PSR-4 MqttBroadcast\Laravel\ => src/, plus the
// "files" of composer.json), the test app, and the extension's test support.

require_once 'Illuminate/autoload.php';

(static function (): void {
    $package = dirname(__DIR__);
    $map = [
        'MqttBroadcast\\Laravel\\Tests\\App\\' => __DIR__ . '/app/src/',
        'MqttBroadcast\\Laravel\\Tests\\' => __DIR__ . '/',
        'MqttBroadcast\\Laravel\\' => $package . '/src/',
    ];
    spl_autoload_register(static function (string $class) use ($map): void {
        foreach ($map as $prefix => $dir) {
            if (str_starts_with($class, $prefix)) {
                $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                }
                return;
            }
        }
    });
    $composer = json_decode((string) file_get_contents($package . '/composer.json'), true, flags: JSON_THROW_ON_ERROR);
    foreach ($composer['autoload']['files'] ?? [] as $file) {
        require_once $package . '/' . $file;
    }
})();

require_once dirname(__DIR__, 2) . '/tests/support/autoload.php';

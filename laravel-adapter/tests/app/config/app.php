<?php

return [
    'name' => 'mqtt-broadcast-test-app',
    'env' => env('APP_ENV', 'testing'),
    'debug' => true,
    'url' => 'http://localhost',
    'timezone' => 'UTC',
    'locale' => 'en',
    'fallback_locale' => 'en',
    'key' => 'base64:' . base64_encode(str_repeat('k', 32)),
    'cipher' => 'AES-256-CBC',

    // The package's provider and alias are not listed: package discovery
    // finds them in its composer.json (see bootstrap/app.php). The framework's
    // are those of Laravel's application skeleton that the package and its
    // tests touch (cookies, encryption and the session for the dashboard's
    // web group); Foundation and View are in every application, and newer
    // Laravels rely on them: queue:work needs the MaintenanceMode binding
    // (Foundation, Laravel 9 and later), error pages such as a 404 are views.
    'providers' => [
        Illuminate\Broadcasting\BroadcastServiceProvider::class,
        Illuminate\Bus\BusServiceProvider::class,
        Illuminate\Cache\CacheServiceProvider::class,
        Illuminate\Foundation\Providers\ConsoleSupportServiceProvider::class,
        Illuminate\Cookie\CookieServiceProvider::class,
        Illuminate\Database\DatabaseServiceProvider::class,
        Illuminate\Encryption\EncryptionServiceProvider::class,
        Illuminate\Filesystem\FilesystemServiceProvider::class,
        Illuminate\Foundation\Providers\FoundationServiceProvider::class,
        Illuminate\Notifications\NotificationServiceProvider::class,
        Illuminate\Queue\QueueServiceProvider::class,
        Illuminate\Session\SessionServiceProvider::class,
        Illuminate\Translation\TranslationServiceProvider::class,
        Illuminate\Validation\ValidationServiceProvider::class,
        Illuminate\View\ViewServiceProvider::class,
        MqttBroadcast\Laravel\Tests\App\AppServiceProvider::class,
    ],

    'aliases' => [
        'Event' => Illuminate\Support\Facades\Event::class,
    ],
];

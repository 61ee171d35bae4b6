<?php

// The front controller of the test application, as in a Laravel skeleton:
// `php -S 127.0.0.1:8000 public/index.php` serves it (see DashboardBrowserTest).

define('LARAVEL_START', microtime(true));

require __DIR__ . '/../../autoload.php';

$app = require __DIR__ . '/../bootstrap/app.php';

$kernel = $app->make(Illuminate\Contracts\Http\Kernel::class);

$response = $kernel->handle(
    $request = Illuminate\Http\Request::capture()
)->send();

$kernel->terminate($request, $response);

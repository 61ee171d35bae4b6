<?php

return [
    'default' => 'single',
    'channels' => [
        'single' => ['driver' => 'single', 'path' => storage_path('logs/laravel.log'), 'level' => 'debug'],
        'deprecations' => ['driver' => 'single', 'path' => storage_path('logs/deprecations.log'), 'level' => 'debug'],
    ],
];

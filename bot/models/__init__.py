"""The models room: installing model files offline (``install``) and supervising local model servers (``server``)."""
